; OCaml: let-bound functions (and top-level values), modules and module types, types, classes and
; their methods, signature values, open (imports), applications and method calls.

(let_binding pattern: (value_name) @name (parameter) body: (_) @body) @definition.function
(let_binding pattern: (value_name) @name body: [(function_expression) (fun_expression)] @body) @definition.function
(compilation_unit (value_definition (let_binding pattern: (value_name) @name body: (_) @body) @definition.function))
(structure (value_definition (let_binding pattern: (value_name) @name body: (_) @body) @definition.function))
(module_binding (module_name) @name body: [(structure) (functor)] @body) @definition.class
(module_type_definition (module_type_name) @name body: (_) @body) @definition.class
(type_binding name: (type_constructor) @name) @definition.class
(class_binding (class_name) @name body: (_) @body) @definition.class
(method_definition (method_name) @name body: (_) @body) @definition.method
(value_specification (value_name) @name) @definition.function

(open_module module: (module_path) @import.module) @import

(application_expression function: (value_path) @call.callee)
(method_invocation object: (_) @call.receiver method: (method_name) @call.name)

(inheritance_definition (class_path) @inherit.base)
(include_module module: (module_path) @inherit.base)

(type_constructor_path (type_constructor) @reference.type)
