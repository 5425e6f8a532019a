; Go: functions, methods (owner = receiver type), structs/interfaces, import specs, calls,
; struct literals (count as calls of the type) and embedding (counts as inheritance).

(function_declaration name: (identifier) @name) @definition.function
(method_declaration
  receiver: (parameter_list (parameter_declaration type: (type_identifier) @parent))
  name: (field_identifier) @name) @definition.method
(method_declaration
  receiver: (parameter_list (parameter_declaration type: (pointer_type (type_identifier) @parent)))
  name: (field_identifier) @name) @definition.method
(method_declaration
  receiver: (parameter_list (parameter_declaration type: (generic_type type: (type_identifier) @parent)))
  name: (field_identifier) @name) @definition.method
(method_declaration
  receiver: (parameter_list (parameter_declaration type: (pointer_type (generic_type type: (type_identifier) @parent))))
  name: (field_identifier) @name) @definition.method
(type_spec name: (type_identifier) @name type: (struct_type (field_declaration_list) @body)) @definition.class
(type_spec name: (type_identifier) @name type: (interface_type) @body) @definition.class
(method_elem name: (field_identifier) @name) @definition.function

(import_spec name: (_)? @import.alias path: [(interpreted_string_literal) (raw_string_literal)] @import.module) @import

(call_expression function: [(identifier) (selector_expression)] @call.callee)
(composite_literal type: [(type_identifier) (qualified_type)] @call.callee)
(composite_literal type: (generic_type type: [(type_identifier) (qualified_type)] @call.callee))

(field_declaration_list (field_declaration !name type: [(type_identifier) (qualified_type)] @inherit.base))
(field_declaration_list (field_declaration !name type: (generic_type type: [(type_identifier) (qualified_type)] @inherit.base)))
(interface_type (type_elem [(type_identifier) (qualified_type)] @inherit.base))

(type_identifier) @reference.type
