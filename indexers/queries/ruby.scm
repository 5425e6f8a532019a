; Ruby: methods, classes, modules, require*, method calls (Foo.new counts as a call of Foo),
; superclasses and mixins (include/extend/prepend count as inheritance).

(method name: (_) @name) @definition.function
(singleton_method name: (_) @name) @definition.function
(class name: [(constant) (scope_resolution)] @name) @definition.class
(module name: [(constant) (scope_resolution)] @name) @definition.class

(call
  method: (identifier) @_require (#any-of? @_require "require" "require_relative" "load" "autoload")
  arguments: (argument_list (string (string_content) @import.module))) @import

(call receiver: (_)? @call.receiver method: (identifier) @call.name)
(call receiver: [(constant) (scope_resolution)] @call.callee method: (identifier) @_new (#eq? @_new "new"))

(superclass [(constant) (scope_resolution)] @inherit.base)
(call
  method: (identifier) @_mixin (#any-of? @_mixin "include" "extend" "prepend")
  arguments: (argument_list [(constant) (scope_resolution)] @inherit.base))
