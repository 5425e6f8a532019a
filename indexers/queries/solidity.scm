; Solidity: contracts/interfaces/libraries, structs/enums/events/errors, functions, modifiers,
; constructors, imports, calls (function calls, emit, modifier use), `is` bases.

(contract_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.class
(library_declaration name: (identifier) @name) @definition.class
(struct_declaration name: (identifier) @name) @definition.class
(enum_declaration name: (identifier) @name) @definition.class
(event_definition name: (identifier) @name) @definition.function
(error_declaration name: (identifier) @name) @definition.function
(function_definition name: (identifier) @name) @definition.function
(modifier_definition name: (identifier) @name) @definition.function
(constructor_definition "constructor" @name) @definition.function

; import "./A.sol"; import {A as B, C} from "./A.sol"; import * as X from "./A.sol";
(import_directive source: (string) @import.module) @import
(import_directive import_name: (identifier) @import.name . ["," "}"] source: (string) @import.module) @import
(import_directive import_name: (identifier) @import.name . alias: (identifier) @import.alias source: (string) @import.module) @import
(import_directive "*" alias: (identifier) @import.alias source: (string) @import.module) @import
(import_directive source: (string) @import.module . alias: (identifier) @import.alias) @import

(call_expression function: (expression [(identifier) (member_expression)] @call.callee))
(emit_statement name: (expression [(identifier) (member_expression)] @call.callee))
(modifier_invocation . (identifier) @call.callee)

(inheritance_specifier ancestor: (user_defined_type) @inherit.base)

(user_defined_type (identifier) @reference.type)
