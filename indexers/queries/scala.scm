; Scala: classes/objects/traits/enums, defs, imports (path pieces are segments), calls, new,
; extends/with clauses.

(class_definition name: (identifier) @name) @definition.class
(object_definition name: (identifier) @name) @definition.class
(trait_definition name: (identifier) @name) @definition.class
(enum_definition name: (identifier) @name) @definition.class
(function_definition name: (identifier) @name) @definition.function
(function_declaration name: (identifier) @name) @definition.function

; import a.b.C / import a.b.{C, D => E} / import a.b._
(import_declaration [(identifier) (operator_identifier)] @import.segment) @import
(import_declaration (namespace_selectors [(identifier) (type_identifier)] @import.name)) @import
(import_declaration (namespace_selectors (arrow_renamed_identifier name: (_) @import.name alias: (_) @import.alias))) @import
(import_declaration (namespace_wildcard) @import.glob) @import

(call_expression function: [(identifier) (field_expression)] @call.callee)
(call_expression function: (generic_function function: [(identifier) (field_expression)] @call.callee))
(instance_expression [(type_identifier) (stable_type_identifier) (generic_type)] @call.callee)

(extends_clause type: [(type_identifier) (stable_type_identifier) (generic_type)] @inherit.base)

(type_identifier) @reference.type
