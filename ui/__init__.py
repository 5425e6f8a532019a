"""repo-rag web chat (Gradio): ``repo-rag serve --repo PATH``; see ui.app for the page, ui.cli for the command."""
