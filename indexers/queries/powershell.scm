; PowerShell: functions, classes (with methods; `class A : B, I` bases count as inheritance),
; enums, `using module` / Import-Module / dot-sourcing as imports, commands and method calls.

(function_statement (function_name) @name (script_block)? @body) @definition.function
; a class has no body node: its signature ends with its name or last base, the node holds the members
(class_statement . (simple_name) @name @header (simple_name)* @header) @definition.class @body
(class_method_definition (simple_name) @name ")" @header (script_block) @body) @definition.method
(enum_statement . (simple_name) @name) @definition.class

; using module ./X.psm1 / Import-Module Az.Accounts / . ./helpers.ps1
(command
  command_name: (command_name) @_using (#match? @_using "^[Uu]sing$")
  command_elements: (command_elements (generic_token) @import.module .)) @import
(command
  command_name: (command_name) @_import (#match? @_import "^[Ii]mport-[Mm]odule$")
  command_elements: (command_elements (generic_token) @import.module)) @import
(command
  (command_invokation_operator) @_dot (#eq? @_dot ".")
  command_name: (command_name_expr (command_name) @import.module)) @import

(command command_name: (command_name) @call.callee (#not-match? @call.callee "^([Uu]sing|[Ii]mport-[Mm]odule)$"))
(invokation_expression . (_) @call.receiver (member_name (simple_name) @call.name) (argument_list))

(class_statement . (simple_name) (simple_name) @inherit.base)

(type_name (type_identifier) @reference.type)
