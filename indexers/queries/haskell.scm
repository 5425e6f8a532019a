; Haskell: functions (each equation is a definition; a type signature right above belongs to it),
; data/newtype/type synonyms/classes, instances as scopes of their type (methods become Type.m,
; the class counts as inheritance), imports, applications as calls.

(function name: (variable) @name . (patterns)? . [(match) (guards)] @body) @definition.function
(function name: (variable) @name) @definition.function
(bind name: (variable) @name . (match) @body) @definition.function
(bind name: (variable) @name) @definition.function
(data_type name: (name) @name) @definition.class
(newtype name: (name) @name) @definition.class
(type_synonym name: (name) @name) @definition.class
(class name: (name) @name declarations: (_) @body) @definition.class
(class name: (name) @name) @definition.class
(instance patterns: (type_patterns . [(name) (qualified)] @name) declarations: (_) @body) @definition.scope
(instance patterns: (type_patterns . (parens (apply . [(name) (qualified)] @name)))) @definition.scope

; import M / import qualified M as N / import M (a, B(..)) / import M hiding (x)
(import module: (module) @import.module) @import
(import module: (module) @import.module alias: (module) @import.alias) @import
(import module: (module) @import.module names: (import_list (import_name [(variable) (name)] @import.name))) @import

(apply function: [(variable) (qualified)] @call.callee)

(instance name: [(name) (qualified)] @inherit.base)
(class context: (context [
  (apply constructor: [(name) (qualified)] @inherit.base)
  (parens (apply constructor: [(name) (qualified)] @inherit.base))
  (tuple (apply constructor: [(name) (qualified)] @inherit.base))]))

(name) @reference.type
