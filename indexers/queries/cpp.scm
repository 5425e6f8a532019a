; inherits: c
; C++ additions: classes, methods (inline or out-of-line 'A::m'), new, base classes.

(class_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.class
(class_specifier name: (template_type name: (type_identifier) @name) body: (field_declaration_list)) @definition.class
(function_definition declarator: (function_declarator declarator: [(field_identifier) (destructor_name) (operator_name)] @name)) @definition.function
(function_definition declarator: (function_declarator declarator: (qualified_identifier) @name)) @definition.function
(function_definition
  declarator: (pointer_declarator
    declarator: (function_declarator declarator: [(qualified_identifier) (field_identifier)] @name))) @definition.function
(function_definition
  declarator: (reference_declarator
    (function_declarator declarator: [(identifier) (qualified_identifier) (field_identifier)] @name))) @definition.function

(using_declaration [(identifier) (qualified_identifier)] @import.module) @import

(call_expression function: [(qualified_identifier) (template_function)] @call.callee)
(new_expression type: [(type_identifier) (qualified_identifier) (template_type)] @call.callee)

(base_class_clause [(type_identifier) (qualified_identifier) (template_type)] @inherit.base)
