; Java: types, methods, constructors, imports, invocations, extends/implements.

(class_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.class
(enum_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(annotation_type_declaration name: (identifier) @name) @definition.class
(method_declaration name: (identifier) @name) @definition.function
(constructor_declaration name: (identifier) @name) @definition.function
(compact_constructor_declaration name: (identifier) @name) @definition.function

; import a.b.C; import static a.b.C.m; import a.b.*;
(import_declaration [(scoped_identifier) (identifier)] @import.module) @import
(import_declaration [(scoped_identifier) (identifier)] @import.module (asterisk) @import.glob) @import

(method_invocation object: (_)? @call.receiver name: (identifier) @call.name)
(object_creation_expression type: [(type_identifier) (scoped_type_identifier) (generic_type)] @call.callee)

(superclass [(type_identifier) (scoped_type_identifier) (generic_type)] @inherit.base)
(super_interfaces (type_list [(type_identifier) (scoped_type_identifier) (generic_type)] @inherit.base))
(extends_interfaces (type_list [(type_identifier) (scoped_type_identifier) (generic_type)] @inherit.base))

(type_identifier) @reference.type
