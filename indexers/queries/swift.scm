; Swift: classes/structs/enums/actors, protocols, extensions (scopes), functions, imports, calls,
; inheritance and protocol conformance.

(class_declaration name: (type_identifier) @name) @definition.class
(class_declaration name: (user_type (type_identifier) @name)) @definition.scope
(protocol_declaration name: (type_identifier) @name) @definition.class
(function_declaration name: (simple_identifier) @name) @definition.function
(protocol_function_declaration name: (simple_identifier) @name) @definition.function
(init_declaration "init" @name) @definition.function

(import_declaration (identifier) @import.module) @import

(call_expression . [(simple_identifier) (navigation_expression)] @call.callee)

(inheritance_specifier inherits_from: (user_type) @inherit.base)

(user_type (type_identifier) @reference.type)
