; SQL: CREATE TABLE / VIEW / MATERIALIZED VIEW / TYPE (classes), FUNCTION / PROCEDURE / TRIGGER
; (functions), named by their first object reference (`schema.name` makes schema the owner);
; function invocations as calls; tables read (FROM, JOIN, REFERENCES) as references.

(create_table . (keyword_create) (object_reference) @name (column_definitions)? @body) @definition.class
(create_view (object_reference) @name (create_query)? @body) @definition.class
(create_materialized_view (object_reference) @name (create_query)? @body) @definition.class
(create_type (object_reference) @name) @definition.class
(create_function (object_reference) @name (function_body)? @body) @definition.function
(create_procedure (object_reference) @name (procedure_body)? @body) @definition.function
(create_trigger . (keyword_create) . (keyword_trigger) . (object_reference) @name) @definition.function

(invocation (object_reference) @call.callee)

(relation (object_reference name: (identifier) @reference.type))
(column_definition (object_reference name: (identifier) @reference.type))
