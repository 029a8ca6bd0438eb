"""The identity service's e-mails, in English and Japanese: plain text plus the same as HTML."""

from __future__ import annotations

import html

from services.common.mail import Mail

LANGUAGES = ("en", "ja")

_TEXT: dict[str, dict[str, tuple[str, str]]] = {
    "signup_code": {
        "en": ("Your portal sign-up code",
               "Your code to finish signing up for the customer portal is:\n\n{code}\n\n"
               "It is valid for {minutes} minutes. If you did not ask for it, ignore this mail."),
        "ja": ("ポータル登録の確認コード",
               "カスタマーポータルの登録を完了するための確認コードです。\n\n{code}\n\n"
               "有効期限は{minutes}分です。お心当たりのない場合は、このメールを破棄してください。"),
    },
    "already_registered": {
        "en": ("Your account already has a portal login",
               "Someone asked to sign up for the customer portal with your customer number, but "
               "the account already has a portal login. Sign in, or reset your password from "
               "the sign-in page. If this was not you, no action is needed."),
        "ja": ("ポータルのアカウントは登録済みです",
               "お客様番号でポータルの新規登録が申し込まれましたが、このアカウントは既に登録済みです。"
               "ログインするか、ログイン画面からパスワードを再設定してください。"
               "お心当たりのない場合は、対応は不要です。"),
    },
    "reset_code": {
        "en": ("Your portal password reset code",
               "Your code to set a new portal password is:\n\n{code}\n\n"
               "It is valid for {minutes} minutes. If you did not ask for it, ignore this mail: "
               "your password stays as it is."),
        "ja": ("パスワード再設定の確認コード",
               "ポータルのパスワードを再設定するための確認コードです。\n\n{code}\n\n"
               "有効期限は{minutes}分です。お心当たりのない場合は、このメールを破棄してください。"
               "パスワードは変更されません。"),
    },
}  # fmt: skip


def language_of(requested: str) -> str:
    """The mail language for a request's ``language`` ("ja", "ja-JP", "en"...); English unless
    Japanese is asked for."""
    return "ja" if requested.strip().lower().startswith("ja") else "en"


def render(kind: str, to: str, language: str, **values: object) -> Mail:
    subject, body = _TEXT[kind][language_of(language)]
    text = body.format(**values)
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n"))
    page = (
        f'<!doctype html><html lang="{language_of(language)}"><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head><body>{paragraphs}</body></html>"
    )
    return Mail(to=to, subject=subject, text=text, html=page, language=language_of(language))
