"""What every refusal test asserts: not answerable, nothing cited, and the answer opening with the
sentence that names the reason."""


def assert_refused(answerer, question: str, opening: str) -> None:
    a = answerer.ask(question)
    assert not a.answerable and a.citations == [], a.answer
    assert a.answer.startswith(opening), a.answer
