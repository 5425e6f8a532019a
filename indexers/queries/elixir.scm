; Elixir: defmodule/defprotocol (classes), def/defp/defmacro/defguard (functions), defimpl as a
; scope of the implementing type (the protocol counts as inheritance, like @behaviour),
; alias/import/require/use, calls (local, Module.fun and pipes).

(call
  target: (identifier) @_def (#any-of? @_def "defmodule" "defprotocol")
  (arguments . (alias) @name)
  (do_block) @body) @definition.class
(call
  target: (identifier) @_def (#eq? @_def "defimpl")
  (arguments (keywords (pair key: (keyword) @_for (#match? @_for "^for:") value: (alias) @name)))
  (do_block) @body) @definition.scope
(call
  target: (identifier) @_def (#eq? @_def "defimpl")
  (arguments . (alias) @inherit.base))

(call
  target: (identifier) @_def
  (#any-of? @_def "def" "defp" "defmacro" "defmacrop" "defguard" "defguardp" "defdelegate" "defn" "defnp")
  (arguments . [
    (identifier) @name
    (call target: (identifier) @name)
    (binary_operator left: [(identifier) @name (call target: (identifier) @name)])])
  (do_block)? @body) @definition.function

; alias A.B / alias A.{B, C} / alias A.B, as: C / import A, only: [...] / require A / use A
(call
  target: (identifier) @_kw (#any-of? @_kw "alias" "import" "require" "use")
  (arguments . (alias) @import.module)) @import
(call
  target: (identifier) @_kw (#eq? @_kw "alias")
  (arguments . (alias) @import.module
    (keywords (pair key: (keyword) @_as (#match? @_as "^as:") value: (alias) @import.alias)))) @import
(call
  target: (identifier) @_kw (#eq? @_kw "alias")
  (arguments . (dot left: (alias) @import.module right: (tuple (alias) @import.name)))) @import

(unary_operator
  operand: (call target: (identifier) @_attr (#eq? @_attr "behaviour") (arguments . (alias) @inherit.base)))

(unary_operator
  operand: (call target: (identifier) @_attr (#eq? @_attr "moduledoc") (arguments . (string) @doc)))

(call
  target: (identifier) @call.callee
  (#not-match? @call.callee "^(def[a-z]*|alias|import|require|use|quote|unquote|if|unless|case|cond|with|for|fn|try|receive|raise|reraise|doc|moduledoc|typedoc|spec|type|typep|opaque|callback|impl|behaviour|derive)$"))
(call target: (dot left: [(alias) (identifier) (dot)] right: (identifier)) @call.callee (arguments))
