; Nix: bindings of functions (functions) and of attribute sets (classes, so nested sets give
; qualnames such as services.web.enable's owner), `import <path>` / callPackage ./x.nix as
; imports, function applications as calls.

(binding attrpath: (attrpath) @name expression: (function_expression body: (_) @body)) @definition.function
(binding attrpath: (attrpath) @name expression: [(attrset_expression) (rec_attrset_expression)] @body) @definition.class

(apply_expression
  function: (variable_expression name: (identifier) @_import (#eq? @_import "import"))
  argument: [(path_expression) (spath_expression)] @import.module) @import
(apply_expression
  function: (apply_expression
    function: [
      (variable_expression name: (identifier) @_call)
      (select_expression attrpath: (attrpath (identifier) @_call .))]
    (#eq? @_call "callPackage")
    argument: (path_expression) @import.module)) @import

(apply_expression
  function: [(variable_expression) (select_expression)] @call.callee
  (#not-eq? @call.callee "import"))
