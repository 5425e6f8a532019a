; Kotlin: classes/interfaces/objects, functions, imports, calls, supertypes.

(class_declaration name: (identifier) @name [(class_body) (enum_class_body)] @body) @definition.class
(class_declaration name: (identifier) @name) @definition.class
(object_declaration name: (identifier) @name (class_body) @body) @definition.class
(object_declaration name: (identifier) @name) @definition.class
(function_declaration name: (identifier) @name (function_body) @body) @definition.function
(function_declaration name: (identifier) @name) @definition.function

; import a.b.C / import a.b.C as D / import a.b.*
(import (qualified_identifier) @import.module) @import
(import (qualified_identifier) @import.module (identifier) @import.alias) @import
(import (qualified_identifier) @import.module "*" @import.glob) @import

(call_expression . [(identifier) (navigation_expression)] @call.callee)

(delegation_specifier (user_type) @inherit.base)
(delegation_specifier (constructor_invocation (user_type) @inherit.base))
(delegation_specifier (explicit_delegation (user_type) @inherit.base))

(user_type (identifier) @reference.type)
