; Verilog / SystemVerilog (no body nodes: the header is the @header, the node holds the members):
; modules, interfaces, packages, classes, functions, tasks; `include and package imports;
; function/task calls and module instantiations as calls; `extends` as inheritance.

(module_declaration
  (module_header (simple_identifier) @name) @header
  [(module_ansi_header) (module_nonansi_header)]? @header) @definition.class @body
(interface_declaration
  [(interface_ansi_header (interface_identifier (simple_identifier) @name))
   (interface_nonansi_header (interface_identifier (simple_identifier) @name))] @header) @definition.class @body
(package_declaration (package_identifier (simple_identifier) @name) @header) @definition.class @body
(class_declaration . (class_identifier (simple_identifier) @name) @header (class_type)? @header) @definition.class @body
(function_declaration
  (function_body_declaration
    (function_identifier (function_identifier (simple_identifier) @name)) @header
    (tf_port_list)? @header ")"? @header)) @definition.function
(task_declaration
  (task_body_declaration
    (task_identifier (task_identifier (simple_identifier) @name)) @header
    (tf_port_list)? @header ")"? @header)) @definition.function

(include_compiler_directive (double_quoted_string) @import.module) @import
(package_import_declaration (package_import_item (package_identifier (simple_identifier) @import.module))) @import

(tf_call . (simple_identifier) @call.callee)
(module_instantiation . (simple_identifier) @call.callee)

(class_declaration (class_type (class_identifier (simple_identifier) @inherit.base)))
