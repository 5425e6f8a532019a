; Julia (no body nodes: @header ends the signature): functions and macros (long form, and short form `f(x) = ...`), structs and abstract
; types (supertypes count as inheritance), modules, using/import/include, calls and broadcast calls.

(function_definition
  (signature [
    (call_expression . [(identifier) (field_expression)] @name)
    (typed_expression . (call_expression . [(identifier) (field_expression)] @name))
    (where_expression . (call_expression . [(identifier) (field_expression)] @name))
    (where_expression . (typed_expression . (call_expression . [(identifier) (field_expression)] @name)))]) @header) @definition.function
(macro_definition (signature (call_expression . (identifier) @name)) @header) @definition.function
(assignment
  . [
    (call_expression . [(identifier) (field_expression)] @name)
    (where_expression . (call_expression . [(identifier) (field_expression)] @name))]
  (operator) @_eq (#eq? @_eq "=")) @definition.function
(struct_definition
  (type_head [
    (identifier) @name
    (parametrized_type_expression . (identifier) @name)
    (binary_expression . [(identifier) @name (parametrized_type_expression . (identifier) @name)])]) @header) @definition.class @body
(abstract_definition
  (type_head [
    (identifier) @name
    (parametrized_type_expression . (identifier) @name)
    (binary_expression . [(identifier) @name (parametrized_type_expression . (identifier) @name)])]) @header) @definition.class @body
(module_definition name: (identifier) @name @header) @definition.class @body

; using A / using A: b, c / import A.B as C / include("file.jl")
(using_statement [(identifier) (scoped_identifier)] @import.module) @import
(import_statement [(identifier) (scoped_identifier)] @import.module) @import
(import_statement (import_alias [(identifier) (scoped_identifier)] @import.module . (identifier) @import.alias)) @import
(using_statement (selected_import . [(identifier) (scoped_identifier)] @import.module [(identifier) (scoped_identifier)] @import.name)) @import
(import_statement (selected_import . [(identifier) (scoped_identifier)] @import.module [(identifier) (scoped_identifier)] @import.name)) @import
(call_expression
  . (identifier) @_include (#eq? @_include "include")
  (argument_list . (string_literal (content) @import.module))) @import

(call_expression . [(identifier) (field_expression)] @call.callee)
(broadcast_call_expression . [(identifier) (field_expression)] @call.callee)

(type_head (binary_expression (operator) @_sub (#eq? @_sub "<:") . [(identifier) (parametrized_type_expression . (identifier))] @inherit.base))

(typed_expression (identifier) @reference.type .)
