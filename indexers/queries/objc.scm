; inherits: c
; Objective-C additions: @interface and @protocol (classes), @implementation (a scope: methods
; become Class.m), method declarations and definitions (named by the selector's first part),
; @import, message sends as calls, superclass and adopted protocols as inheritance.

; no body node: the last @header ends the signature, the node itself holds the members
(class_interface
  . (identifier) @name @header category: (identifier) @header (parameterized_arguments)? @header) @definition.scope
(class_interface
  . (identifier) @name @header !category
  superclass: (identifier)? @header (parameterized_arguments)? @header) @definition.class @body
(protocol_declaration . (identifier) @name @header (protocol_reference_list)? @header) @definition.class @body
(class_implementation . (identifier) @name) @definition.scope
(method_declaration (identifier) @name) @definition.method
(method_definition (identifier) @name (compound_statement) @body) @definition.method

(module_import path: (_) @import.module) @import

(message_expression receiver: (_) @call.receiver . method: (identifier) @call.name)

(class_interface superclass: (identifier) @inherit.base)
(class_interface (parameterized_arguments (type_name (type_identifier) @inherit.base)))
(class_interface (protocol_reference_list (identifier) @inherit.base))
(protocol_declaration (protocol_reference_list (identifier) @inherit.base))
