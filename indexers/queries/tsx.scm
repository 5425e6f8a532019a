; inherits: typescript
; TSX: JSX elements whose tag is a component (capitalised) count as calls of that component.

(jsx_opening_element name: (identifier) @call.callee (#match? @call.callee "^[A-Z]"))
(jsx_self_closing_element name: (identifier) @call.callee (#match? @call.callee "^[A-Z]"))
(jsx_opening_element name: (member_expression) @call.callee)
(jsx_self_closing_element name: (member_expression) @call.callee)
