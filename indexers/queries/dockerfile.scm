; Dockerfile: build stages (`FROM image AS name`, the FROM line only: instructions are not nested
; under it) and base images as imports.

(from_instruction as: (image_alias) @name) @definition.class

(from_instruction (image_spec name: (image_name) @import.module)) @import
