; Fortran (no body nodes: the opening statement is the @header, the node holds the members):
; modules, submodules, programs, functions, subroutines, derived types, interfaces; `use`
; (with `only:` names), calls (`call s(...)` and f(...), which array indexing also looks like).

(module (module_statement (name) @name) @header) @definition.class @body
(submodule (submodule_statement (name) @name) @header) @definition.class @body
(program (program_statement (name) @name) @header) @definition.function
(function (function_statement name: (name) @name) @header) @definition.function
(subroutine (subroutine_statement name: (name) @name) @header) @definition.function
(module_procedure (module_procedure_statement name: (name) @name) @header) @definition.function
(derived_type_definition (derived_type_statement (type_name) @name) @header) @definition.class @body
(interface (interface_statement (name) @name) @header) @definition.class @body

(use_statement (module_name) @import.module) @import
(use_statement (module_name) @import.module (included_items [(identifier) (use_alias)] @import.name)) @import

(subroutine_call subroutine: (identifier) @call.callee)
(call_expression . (identifier) @call.callee)

(derived_type name: (type_name) @reference.type)
