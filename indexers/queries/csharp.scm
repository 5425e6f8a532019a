; C#: types, methods, constructors, local functions, using directives, invocations, base lists.

(class_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.class
(struct_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(enum_declaration name: (identifier) @name) @definition.class
(method_declaration name: (identifier) @name) @definition.function
(constructor_declaration name: (identifier) @name) @definition.function
(local_function_statement name: (identifier) @name) @definition.function

; using A.B; using static A.B; using X = A.B;
(using_directive !name [(identifier) (qualified_name)] @import.module) @import
(using_directive name: (identifier) @import.alias "=" [(identifier) (qualified_name)] @import.module) @import

(invocation_expression function: [(identifier) (member_access_expression) (generic_name)] @call.callee)
(object_creation_expression type: [(identifier) (qualified_name) (generic_name)] @call.callee)

(base_list [(identifier) (qualified_name) (generic_name)] @inherit.base)
