; Perl: subs, packages (a `package X { ... }` block holds its subs; the statement form is a
; one-line definition), use/require (lower-case pragmas are not imports), calls and method calls,
; `use parent`/`use base` and @ISA as inheritance.

(subroutine_declaration_statement name: (bareword) @name) @definition.function
(package_statement name: (package) @name (block) @body) @definition.class
(package_statement name: (package) @name (#not-eq? @name "main") !body) @definition.class

(use_statement module: (package) @import.module (#not-match? @import.module "^[a-z]")) @import
(require_expression (bareword) @import.module) @import

(function_call_expression function: (function) @call.callee)
(ambiguous_function_call_expression function: (function) @call.callee)
(method_call_expression invocant: (_) @call.receiver method: (method) @call.name)

(use_statement
  module: (package) @_parent (#any-of? @_parent "parent" "base")
  [(quoted_word_list (string_content) @inherit.base)
   (string_literal (string_content) @inherit.base)
   (interpolated_string_literal (string_content) @inherit.base)
   (list_expression [(string_literal (string_content) @inherit.base) (interpolated_string_literal (string_content) @inherit.base)])])
(assignment_expression
  left: (variable_declaration variable: (array (varname) @_isa (#eq? @_isa "ISA")))
  right: (parenthesized_expression [
    (string_literal (string_content) @inherit.base)
    (interpolated_string_literal (string_content) @inherit.base)
    (list_expression [(string_literal (string_content) @inherit.base) (interpolated_string_literal (string_content) @inherit.base)])]))
