; Python: definitions, docstrings, imports, calls, base classes, annotation types.

(function_definition name: (identifier) @name) @definition.function
(class_definition name: (identifier) @name) @definition.class

(module . (expression_statement (string) @doc))
(function_definition body: (block . (expression_statement (string) @doc)))
(class_definition body: (block . (expression_statement (string) @doc)))

; import a.b / import a.b as c
(import_statement name: (dotted_name) @import.module) @import
(import_statement name: (aliased_import name: (dotted_name) @import.module alias: (identifier) @import.alias)) @import
; from a.b import c / from a.b import c as d / from a import *
(import_from_statement module_name: (dotted_name) @import.module name: (dotted_name) @import.name) @import
(import_from_statement module_name: (dotted_name) @import.module
  name: (aliased_import name: (dotted_name) @import.name alias: (identifier) @import.alias)) @import
(import_from_statement module_name: (dotted_name) @import.module (wildcard_import) @import.wildcard) @import
; from ..a import b (level = number of dots)
(import_from_statement module_name: (relative_import (import_prefix) @import.level (dotted_name)? @import.module)
  name: (dotted_name) @import.name) @import
(import_from_statement module_name: (relative_import (import_prefix) @import.level (dotted_name)? @import.module)
  name: (aliased_import name: (dotted_name) @import.name alias: (identifier) @import.alias)) @import
(import_from_statement module_name: (relative_import (import_prefix) @import.level (dotted_name)? @import.module)
  (wildcard_import) @import.wildcard) @import
(future_import_statement "__future__" @import.module name: (dotted_name) @import.name) @import

(call function: [(identifier) (attribute)] @call.callee)

(class_definition superclasses: (argument_list [(identifier) (attribute)] @inherit.base))
(class_definition superclasses: (argument_list (subscript value: [(identifier) (attribute)] @inherit.base)))

(type (identifier) @reference.type)
(type (attribute) @reference.type)
(type (generic_type (identifier) @reference.type))
(type (subscript value: (identifier) @reference.type))
