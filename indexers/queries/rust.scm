; Rust: fns, structs/enums/unions/traits/mods, impl blocks as scopes (methods become Type.m),
; use trees, calls/macros/struct literals, implemented traits and supertraits.

(function_item name: (identifier) @name) @definition.function
(function_signature_item name: (identifier) @name) @definition.function
(macro_definition name: (identifier) @name) @definition.function
(struct_item name: (type_identifier) @name) @definition.class
(enum_item name: (type_identifier) @name) @definition.class
(union_item name: (type_identifier) @name) @definition.class
(trait_item name: (type_identifier) @name) @definition.class
(mod_item name: (identifier) @name body: (declaration_list)) @definition.class
(impl_item type: (type_identifier) @name) @definition.scope
(impl_item type: (generic_type type: (type_identifier) @name)) @definition.scope
(impl_item type: (scoped_type_identifier name: (type_identifier) @name)) @definition.scope
(impl_item type: (generic_type type: (scoped_type_identifier name: (type_identifier) @name))) @definition.scope

; use a; use a::b; use a::b as c; use a::*; use a::{b, c as d, e::f}; mod x; extern crate y;
(use_declaration argument: (identifier) @import.module) @import
(use_declaration argument: (scoped_identifier path: (_) @import.module name: (identifier) @import.name)) @import
(use_declaration
  argument: (use_as_clause
    path: (scoped_identifier path: (_) @import.module name: (identifier) @import.name)
    alias: (identifier) @import.alias)) @import
(use_declaration argument: (use_as_clause path: (identifier) @import.module alias: (identifier) @import.alias)) @import
(use_declaration argument: (use_wildcard (_) @import.module) @import.glob) @import
(use_declaration
  argument: (scoped_use_list path: (_) @import.module list: (use_list [(identifier) (scoped_identifier) (self)] @import.name))) @import
(use_declaration
  argument: (scoped_use_list
    path: (_) @import.module
    list: (use_list (use_as_clause path: (_) @import.name alias: (identifier) @import.alias)))) @import
(mod_item name: (identifier) @import.module !body) @import
(extern_crate_declaration name: (identifier) @import.module) @import

(call_expression function: [(identifier) (scoped_identifier) (field_expression)] @call.callee)
(call_expression function: (generic_function function: [(identifier) (scoped_identifier) (field_expression)] @call.callee))
(macro_invocation macro: [(identifier) (scoped_identifier)] @call.callee)
(struct_expression name: [(type_identifier) (scoped_type_identifier)] @call.callee)

(impl_item trait: [(type_identifier) (scoped_type_identifier) (generic_type)] @inherit.base)
(trait_item bounds: (trait_bounds [(type_identifier) (scoped_type_identifier) (generic_type)] @inherit.base))

(type_identifier) @reference.type
