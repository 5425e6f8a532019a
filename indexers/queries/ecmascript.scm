; Shared by javascript.scm, typescript.scm and tsx.scm (included with "; inherits: ecmascript").

(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(class_declaration name: (_) @name) @definition.class
(class name: (_) @name) @definition.class
(method_definition name: (_) @name) @definition.function
(variable_declarator name: (identifier) @name value: (arrow_function body: (_) @body)) @definition.function
(variable_declarator name: (identifier) @name value: [(function_expression) (generator_function)] @body) @definition.function
(pair key: (property_identifier) @name value: (arrow_function body: (_) @body)) @definition.function
(pair key: (property_identifier) @name value: [(function_expression) (generator_function)] @body) @definition.function
(assignment_expression
  left: (member_expression property: (property_identifier) @name)
  right: [(function_expression) (generator_function)] @body) @definition.function
(assignment_expression
  left: (member_expression property: (property_identifier) @name)
  right: (arrow_function body: (_) @body)) @definition.function

; import x from 'm' / import * as ns from 'm' / import {a as b} from 'm' / import 'm'
(import_statement (import_clause (identifier) @import.default) source: (string (string_fragment) @import.module)) @import
(import_statement (import_clause (namespace_import (identifier) @import.alias)) source: (string (string_fragment) @import.module)) @import
(import_statement
  (import_clause (named_imports (import_specifier name: (_) @import.name alias: (_)? @import.alias)))
  source: (string (string_fragment) @import.module)) @import
(import_statement source: (string (string_fragment) @import.module)) @import
; export * from 'm' / export {a as b} from 'm'
(export_statement "*" @import.wildcard source: (string (string_fragment) @import.module)) @import
(export_statement
  (export_clause (export_specifier name: (_) @import.name alias: (_)? @import.alias))
  source: (string (string_fragment) @import.module)) @import
; require('m'), const m = require('m'), const {a, b: c} = require('m'), import('m')
(call_expression
  function: (identifier) @_require (#eq? @_require "require")
  arguments: (arguments . (string (string_fragment) @import.module))) @import
(variable_declarator
  name: (identifier) @import.alias
  value: (call_expression
    function: (identifier) @_require (#eq? @_require "require")
    arguments: (arguments . (string (string_fragment) @import.module)))) @import
(variable_declarator
  name: (object_pattern (shorthand_property_identifier_pattern) @import.name)
  value: (call_expression
    function: (identifier) @_require (#eq? @_require "require")
    arguments: (arguments . (string (string_fragment) @import.module)))) @import
(variable_declarator
  name: (object_pattern (pair_pattern key: (property_identifier) @import.name value: (identifier) @import.alias))
  value: (call_expression
    function: (identifier) @_require (#eq? @_require "require")
    arguments: (arguments . (string (string_fragment) @import.module)))) @import
(call_expression function: (import) arguments: (arguments . (string (string_fragment) @import.module))) @import

(call_expression function: [(identifier) (member_expression)] @call.callee)
(call_expression function: (await_expression [(identifier) (member_expression)] @call.callee))
(new_expression constructor: [(identifier) (member_expression)] @call.callee)

