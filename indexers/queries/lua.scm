; Lua: functions (M.f and M:f are methods of M), require, calls.

(function_declaration name: [(identifier) (dot_index_expression) (method_index_expression)] @name) @definition.function
(assignment_statement
  (variable_list name: [(identifier) (dot_index_expression)] @name)
  (expression_list value: (function_definition body: (block) @body))) @definition.function

(function_call
  name: (identifier) @_require (#eq? @_require "require")
  arguments: (arguments (string content: (string_content) @import.module))) @import
(variable_declaration
  (assignment_statement
    (variable_list name: (identifier) @import.alias)
    (expression_list
      value: (function_call
        name: (identifier) @_require (#eq? @_require "require")
        arguments: (arguments (string content: (string_content) @import.module)))))) @import

(function_call name: [(identifier) (dot_index_expression) (method_index_expression)] @call.callee)
