; PHP: classes/interfaces/traits/enums, functions, methods, use/require, calls, extends/implements.

(class_declaration name: (name) @name) @definition.class
(interface_declaration name: (name) @name) @definition.class
(trait_declaration name: (name) @name) @definition.class
(enum_declaration name: (name) @name) @definition.class
(function_definition name: (name) @name) @definition.function
(method_declaration name: (name) @name) @definition.function

; use A\B; use A\B as C; require/include 'file.php' (also __DIR__ . '/file.php')
(namespace_use_declaration (namespace_use_clause [(qualified_name) (name)] @import.module !alias)) @import
(namespace_use_declaration (namespace_use_clause [(qualified_name) (name)] @import.module alias: (name) @import.alias)) @import
(require_expression (string (string_content) @import.module)) @import
(require_expression (binary_expression right: (string (string_content) @import.module))) @import
(require_once_expression (string (string_content) @import.module)) @import
(require_once_expression (binary_expression right: (string (string_content) @import.module))) @import
(include_expression (string (string_content) @import.module)) @import
(include_expression (binary_expression right: (string (string_content) @import.module))) @import
(include_once_expression (string (string_content) @import.module)) @import
(include_once_expression (binary_expression right: (string (string_content) @import.module))) @import

(function_call_expression function: [(name) (qualified_name)] @call.callee)
(member_call_expression object: (_) @call.receiver name: (name) @call.name)
(nullsafe_member_call_expression object: (_) @call.receiver name: (name) @call.name)
(scoped_call_expression scope: (_) @call.receiver name: (name) @call.name)
(object_creation_expression [(name) (qualified_name)] @call.callee)

(base_clause [(name) (qualified_name)] @inherit.base)
(class_interface_clause [(name) (qualified_name)] @inherit.base)
(use_declaration [(name) (qualified_name)] @inherit.base)

(named_type [(name) (qualified_name)] @reference.type)
