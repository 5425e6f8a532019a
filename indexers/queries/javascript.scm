; inherits: ecmascript
; JavaScript: the heritage clause holds the base class expression directly.

(class_heritage [(identifier) (member_expression)] @inherit.base)
