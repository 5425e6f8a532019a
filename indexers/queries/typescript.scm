; inherits: ecmascript
; TypeScript additions: interfaces, abstract classes, enums, namespaces, signatures, types.

(interface_declaration name: (type_identifier) @name) @definition.class
(abstract_class_declaration name: (type_identifier) @name) @definition.class
(enum_declaration name: (identifier) @name) @definition.class
(internal_module name: (_) @name) @definition.class
(method_signature name: (_) @name) @definition.function
(abstract_method_signature name: (_) @name) @definition.function
(function_signature name: (identifier) @name) @definition.function
(public_field_definition name: (property_identifier) @name value: (arrow_function body: (_) @body)) @definition.function

(import_require_clause (identifier) @import.alias source: (string (string_fragment) @import.module)) @import

(extends_clause value: [(identifier) (member_expression)] @inherit.base)
(implements_clause [(type_identifier) (nested_type_identifier) (generic_type)] @inherit.base)
(extends_type_clause type: [(type_identifier) (nested_type_identifier) (generic_type)] @inherit.base)

(type_identifier) @reference.type
