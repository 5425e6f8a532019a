; HCL / Terraform: top-level labelled blocks. Two labels (`resource "aws_instance" "web"`, `data`)
; give type.name; one label (`module "vpc"`, `variable`, `output`, `provider`) gives kind.name.
; A module's `source` is its import; function calls are calls.

(config_file
  (body
    (block
      (identifier)
      . (string_lit (template_literal) @parent)
      . (string_lit (template_literal) @name)
      (body)? @body) @definition.class))
(config_file
  (body
    (block
      (identifier) @parent
      . (string_lit (template_literal) @name)
      . (block_start)
      (body)? @body) @definition.class))

(block
  (identifier) @_module (#eq? @_module "module")
  (body
    (attribute
      (identifier) @_source (#eq? @_source "source")
      (expression (literal_value (string_lit (template_literal) @import.module)))))) @import

(function_call (identifier) @call.callee)
