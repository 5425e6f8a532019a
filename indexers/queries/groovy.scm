; Groovy (a Java-like grammar): types, methods, constructors, script functions (`def f(...)`),
; imports (`import a.B as C`, `import a.*`), invocations, command calls without parentheses
; (`println x`), new, extends/implements.

(class_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.class
(enum_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(annotation_type_declaration name: (identifier) @name) @definition.class
(method_declaration name: (identifier) @name) @definition.function
(constructor_declaration name: (identifier) @name) @definition.function
(function_definition name: (identifier) @name) @definition.function

(import_declaration . [(scoped_identifier) (identifier)] @import.module) @import
(import_declaration . (scoped_identifier) @import.module . (identifier) @import.alias) @import
(import_declaration . [(scoped_identifier) (identifier)] @import.module (asterisk) @import.glob) @import

(method_invocation object: (_)? @call.receiver name: (identifier) @call.name)
(juxt_function_call name: (identifier) @call.callee)
(object_creation_expression type: [(type_identifier) (scoped_type_identifier) (generic_type)] @call.callee)

(superclass [(type_identifier) (scoped_type_identifier) (generic_type)] @inherit.base)
(super_interfaces (type_list [(type_identifier) (scoped_type_identifier) (generic_type)] @inherit.base))
(extends_interfaces (type_list [(type_identifier) (scoped_type_identifier) (generic_type)] @inherit.base))

(type_identifier) @reference.type
