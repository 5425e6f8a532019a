; Bash: functions, sourced files, commands (a command naming a function is a call of it).

(function_definition name: (word) @name) @definition.function

(command
  name: (command_name (word) @_source (#any-of? @_source "source" "."))
  argument: [(word) (string) (raw_string)] @import.module) @import

(command name: (command_name (word) @call.callee))
