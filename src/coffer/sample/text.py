"""Message texts with realistic lengths, several scripts and emoji.

Rules: texts depend only on the RNG handed in; the vocabulary is fixed in this file, so changing
it changes every generated database (treat it as part of the dataset's format).

Theory: chat texts are mostly short (a few words), sometimes a sentence or two, rarely a long
paragraph; we draw a length class, then words from a mixed-language vocabulary, and sprinkle
emoji. ``rng.choices`` with ``k`` keeps it fast (~100k texts per second).
"""

from __future__ import annotations

import random


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(sep))


_ENGLISH = _words(
    "ok yes no maybe hey hi hello thanks thank you lol haha sure see you later tomorrow today "
    "tonight morning evening where are when what why how I'm on my way coming home late soon "
    "call me back please did get the photo look at this nice great cool love it miss dinner "
    "lunch coffee meeting work office school kids train bus traffic weekend plans party "
    "birthday happy congrats good night sleep well just landed boarding now running minutes "
    "can't talk right send me address link file document ticket booked done finished"
)
_OTHER = _words(
    "hola qué tal mañana gracias vale bueno besos ciao grazie perché allora obrigado você "
    "saudade até logo danke schön tschüss genau später müde café déjà vu très bien à bientôt "
    "привет спасибо пока хорошо завтра давай где ты "
    "你好 谢谢 明天 晚安 好的 こんにちは ありがとう また明日 おやすみ 안녕 고마워 "
    "مرحبا شكرا नमस्ते धन्यवाद γεια ευχαριστώ"
)
_EMOJI = _words(
    "😀 😂 🤣 😊 😍 😘 😎 🤔 😢 😭 😡 👍 👎 👏 🙏 💪 🎉 🎂 ❤️ 💔 🔥 ✨ ⭐ 🌹 🍕 🍺 ☕ "
    "🚗 ✈️ 🏠 📷 🎵 ⚽ 🐶 🐱 👋 👀 💯 ✅ ❌ 😴 🤷 🤦 👨‍👩‍👧 🏳️‍🌈 🇧🇷 🇩🇪"
)
_VOCAB = _ENGLISH * 4 + _OTHER
_END = ("", "", "", ".", "!", "?", "!!", "...", " :)")


def message_text(rng: random.Random) -> str:
    """One message text: usually short, sometimes long, often with emoji."""
    roll = rng.random()
    if roll < 0.08:
        return "".join(rng.choices(_EMOJI, k=rng.randint(1, 3)))
    if roll < 0.62:
        words = rng.randint(1, 8)
    elif roll < 0.85:
        words = rng.randint(9, 30)
    else:
        words = rng.randint(31, 150)
    text = " ".join(rng.choices(_VOCAB, k=words)) + rng.choice(_END)
    if rng.random() < 0.3:
        text += " " + "".join(rng.choices(_EMOJI, k=rng.randint(1, 2)))
    return text[:1].upper() + text[1:]


def caption(rng: random.Random) -> str | None:
    """A photo caption, present for about a third of photos."""
    if rng.random() < 0.33:
        return message_text(rng)
    return None


def display_name(rng: random.Random) -> str:
    first = rng.choice(_FIRST)
    return f"{first} {rng.choice(_LAST)}" if rng.random() < 0.7 else first


def group_subject(rng: random.Random) -> str:
    return f"{rng.choice(_GROUPS)} {rng.choice(_EMOJI)}"


_FIRST = _words(
    "Ana João Maria Lukas Sofía Mateo Emma Noah Olivia Liam Chloé Léa Zoë Björn Søren Åsa "
    "Олег Наталья Ахмед Fatima Priya Arjun Wei Mei 陈 佳 Yuki Haruto Minjun Seo-yeon Kwame Amara"
)
_LAST = _words(
    "Silva Santos Müller Schmidt García López Rossi Dubois Nguyễn Kowalski Öztürk Jensen "
    "Иванов Khan Patel Wang Tanaka Kim Mensah O'Brien"
)
_GROUPS = _words(
    "Family,Book club,Football,Work,Climbing,Neighbours,Class of 2012,Trip planning,Cousins,"
    "Band,Running,Parents' group,Flatmates",
    ",",
)
