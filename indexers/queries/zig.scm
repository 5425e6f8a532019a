; Zig: functions, containers bound to a const (struct/enum/union/opaque), @import bindings,
; calls, identifiers used as types.

(function_declaration name: (identifier) @name) @definition.function
(variable_declaration
  (identifier) @name
  [(struct_declaration) (enum_declaration) (union_declaration) (opaque_declaration)] @body) @definition.class

; const std = @import("std"); const Item = @import("item.zig").Item;
(variable_declaration
  (identifier) @import.alias
  (builtin_function
    (builtin_identifier) @_import (#eq? @_import "@import")
    (arguments (string (string_content) @import.module)))) @import
(variable_declaration
  (identifier) @import.alias
  (field_expression
    object: (builtin_function
      (builtin_identifier) @_import (#eq? @_import "@import")
      (arguments (string (string_content) @import.module)))
    member: (identifier) @import.name)) @import

(call_expression function: [(identifier) (field_expression)] @call.callee)

(parameter type: [(identifier) (pointer_type (identifier)) (slice_type (identifier))] @reference.type)
(container_field type: (identifier) @reference.type)
(function_declaration type: (identifier) @reference.type)
