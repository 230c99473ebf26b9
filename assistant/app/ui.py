"""The Gradio chat: answers stream in with their sources, 👍/👎 feedback, an adviser view, `/ask`.

`build_app(assistant, settings)` lays the page out and wires each event to `ChatHandlers`
(`handlers.py`); `serve(settings)` launches it. Nothing runs at import time. The page's style
is `ui.css`.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.app.feedback import FeedbackStore
from assistant.app.handlers import ChatHandlers, Conversation
from assistant.app.loading import load_or_build_assistant
from assistant.app.render import render_status
from assistant.config import Settings
from assistant.core import Assistant

# Read by Gradio when the app is launched; shipped as package data.
CSS_PATH = Path(__file__).with_name("ui.css")

SCOPE = (
    "Je réponds, en citant mes sources, à partir des documents du titre et de ce qui l'entoure ({topics}) "
    "— pas sur votre situation personnelle (dossier, financement, droits)."
)


# The page template says lang="en"; the app speaks French.
_JS = "() => { document.documentElement.lang = 'fr'; }"


def _theme() -> gr.themes.Base:
    # Sizes in rem so text follows the browser's font-size setting as well as its zoom; dark blue
    # buttons keep white labels above 4.5:1 contrast (the default orange does not).
    text = gr.themes.Size(
        xxs="0.625rem", xs="0.75rem", sm="0.875rem", md="1rem", lg="1.125rem", xl="1.375rem", xxl="1.625rem"
    )
    return gr.themes.Default(
        primary_hue=gr.themes.colors.blue,
        neutral_hue=gr.themes.colors.slate,
        text_size=text,
        font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "Consolas", "monospace"],
    ).set(
        button_primary_background_fill="#1d4ed8",
        button_primary_background_fill_hover="#1e40af",
        button_primary_text_color="#ffffff",
        body_text_color_subdued="#475569",
        input_placeholder_color="#64748b",
    )


def launch_options(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments of `gr.Blocks.launch` (Gradio 6 takes the theme and CSS there)."""
    options: dict[str, Any] = {
        "server_name": settings.host,
        "server_port": settings.port,
        "theme": _theme(),
        "css_paths": [CSS_PATH],
        "js": _JS,
        "footer_links": ["api"],
        "show_error": False,  # an unexpected error shows our message, not the exception text
        "share": False,
    }
    return options | overrides


def build_app(assistant: Assistant, settings: Settings, store: FeedbackStore | None = None) -> gr.Blocks:
    """Builds the Gradio app (chat at `/`, adviser view at `/conseiller`, API `/ask` and `/chat`).

    Returns:
        A `gr.Blocks`; launch it with `app.launch(**launch_options(settings))`.
    """
    store = store or FeedbackStore(settings.feedback_db, settings.db_busy_timeout_ms, settings.max_interactions)
    handlers = ChatHandlers(assistant, settings, store)
    private: dict[str, Any] = {"api_visibility": "private"}
    asking: dict[str, Any] = {"concurrency_id": "ask", "concurrency_limit": settings.concurrency_limit}

    # delete_cache: Gradio's copies of the CSV exports are removed after an hour.
    profile = assistant.profile
    title = f"{profile.name} ({profile.reference})" if profile.reference else profile.name
    scope = SCOPE.format(topics=profile.topics.get("fr", ""))
    with gr.Blocks(title=f"Assistant — {title}", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.HTML(f"<h1>{html.escape(title)}</h1><p>{html.escape(scope)}</p>", elem_id="header", js_on_load=None)
        conversation = gr.State(Conversation())
        chatbot = gr.Chatbot(
            label="Conversation",
            elem_id="chat",
            height="60vh",
            min_height=320,
            latex_delimiters=[],
            feedback_options=("Like", "Dislike"),
            buttons=[],
            placeholder="Posez une question sur le titre, ou choisissez un exemple ci-dessous.",
        )
        # Right under the chat, where the 👍/👎 buttons are.
        status = gr.HTML(render_status(""), elem_id="feedback-status", js_on_load=None)
        with gr.Group(visible=False, elem_id="comment-box") as comment_box:
            comment = gr.Textbox(
                label="Votre commentaire sur cette réponse (facultatif)",
                lines=2,
                max_length=settings.max_comment_chars,
                elem_id="comment",
            )
            send_comment = gr.Button("Envoyer le commentaire", size="sm", elem_id="send-comment")
        with gr.Row(equal_height=True):
            question = gr.Textbox(
                label="Votre question",
                placeholder="Par exemple : combien d'heures dure la formation ?",
                lines=1,  # Enter sends, Shift+Enter starts a new line (Gradio does so only at lines=1)
                max_lines=6,
                scale=4,
                min_width=200,
                elem_id="question",
                autofocus=True,
            )
            send = gr.Button("Envoyer", variant="primary", scale=1, min_width=100, elem_id="send")
        new = gr.Button("Nouvelle conversation", variant="secondary", size="sm", elem_id="new-conversation")
        gr.HTML('<p id="examples-title">Exemples de questions :</p>', js_on_load=None)
        with gr.Row(elem_id="examples"):
            example_buttons = [gr.Button(text, size="sm", variant="secondary") for text in profile.examples]

        chat_io: dict[str, Any] = {"inputs": [question, conversation], "outputs": [chatbot, question, conversation]}
        question.submit(handlers.respond, **chat_io, api_name="chat", **asking)
        send.click(handlers.respond, **chat_io, **private, **asking)
        for button in example_buttons:
            button.click(
                handlers.respond,
                inputs=[button, conversation],
                outputs=[chatbot, question, conversation],
                **private,
                **asking,
            )

        def on_like(state: Conversation, data: gr.LikeData) -> tuple[str, Any, Conversation]:
            index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
            shown, offer, state = handlers.vote(state, int(index), data.liked)
            return shown, gr.update(visible=offer), state

        chatbot.like(on_like, inputs=[conversation], outputs=[status, comment_box, conversation], **private)

        def on_comment(text: str, state: Conversation) -> tuple[str, str, Any]:
            shown, left, keep = handlers.comment(text, state)
            return shown, left, gr.update(visible=keep)

        comment_io: dict[str, Any] = {"inputs": [comment, conversation], "outputs": [status, comment, comment_box]}
        send_comment.click(on_comment, **comment_io, **private)
        comment.submit(on_comment, **comment_io, **private)

        def on_new() -> tuple[Any, ...]:
            messages, text, state, shown, offer = handlers.new_conversation()
            return messages, text, state, shown, gr.update(visible=offer)

        reset: dict[str, Any] = {"outputs": [chatbot, question, conversation, status, comment_box]}
        new.click(on_new, **reset, **private)
        chatbot.clear(on_new, **reset, **private)  # the Chatbot's own 🗑 button must forget the history too
        gr.api(handlers.ask_api, api_name="ask", **asking)

    with app.route("Conseiller", "/conseiller", show_in_navbar=False):
        _adviser_page(handlers, settings)

    configure_queue(app, settings)
    return app


def configure_queue(app: gr.Blocks, settings: Settings) -> None:
    """Gradio's queue as the app uses it (the load test's baseline app shares it)."""
    app.queue(default_concurrency_limit=settings.concurrency_limit, max_size=settings.max_queue_size)
    # Gradio recomputes its monitoring summary (a pandas group-by over up to 10,000 past events)
    # after every event; at 50 users that was 7 % of the server's time. Nothing here reads it.
    # Its queue reads these two from GRADIO_ANALYTICS_* when created; set on the queue instead,
    # so that only config.py reads the environment.
    queue = getattr(app, "_queue", None)
    if queue is not None:
        queue.ANAYLTICS_CACHE_FREQUENCY = 1000  # sic: Gradio's own spelling
        queue.ANALYTICS_MAX_EVENTS = 1000


def _adviser_page(handlers: ChatHandlers, settings: Settings) -> None:
    """The adviser view; without a configured password it only says it is disabled."""
    gr.HTML("<h1>Vue conseiller</h1>", elem_id="adviser-header", js_on_load=None)
    if not settings.adviser_password.get_secret_value():
        gr.HTML(
            '<p class="notice">La vue conseiller est désactivée : définissez ASSISTANT_ADVISER_PASSWORD '
            "puis relancez l'application.</p>",
            js_on_load=None,
        )
        return
    with gr.Row(equal_height=True):
        password = gr.Textbox(
            label="Mot de passe conseiller", type="password", scale=3, min_width=200, elem_id="adviser-password"
        )
        show = gr.Button(
            "Afficher les questions récentes", variant="primary", scale=1, min_width=160, elem_id="adviser-show"
        )
    export = gr.Button("Exporter les avis (CSV)", size="sm", elem_id="adviser-export")
    export_status = gr.HTML("", js_on_load=None)
    export_file = gr.File(label="Fichier CSV des avis", visible=False, interactive=False, elem_id="adviser-file")
    view = gr.HTML("", elem_classes=["adviser"], elem_id="adviser-view", js_on_load=None)
    # One adviser request at a time: slows password guessing down.
    guarded: dict[str, Any] = {"api_visibility": "private", "concurrency_limit": 1, "concurrency_id": "adviser"}
    show.click(handlers.adviser_view, inputs=[password], outputs=[view], **guarded)
    password.submit(handlers.adviser_view, inputs=[password], outputs=[view], **guarded)

    def on_export(given: str) -> tuple[str, Any]:
        shown, path = handlers.adviser_export(given)
        return shown, gr.update(value=path, visible=path is not None)

    export.click(on_export, inputs=[password], outputs=[export_status, export_file], **guarded)


def serve(settings: Settings) -> None:
    """Loads the assistant (building the index first if there is none), then serves the app until
    interrupted.

    Raises:
        AssistantError: the assistant could not be loaded (the CLI prints it).
    """
    app = build_app(load_or_build_assistant(settings), settings)
    app.launch(**launch_options(settings))
