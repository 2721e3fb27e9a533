from threads.plaintext import excerpt, html_text


def test_blocks_are_kept_apart_and_entities_read():
    html = "<p>Hello <b>world</b> &amp; co</p><p>second</p><ul><li>a</li><li>b</li></ul>"
    assert html_text(html) == "Hello world & co\nsecond\na\nb"


def test_link_targets_and_attributes_are_not_text():
    html = '<p><a href="https://example.com/secret" title="a > b">the link</a></p>'
    assert html_text(html) == "the link"


def test_control_characters_are_dropped():
    assert html_text("<p>a\x02b\x03c\x7fd\ue000</p>") == "abcd\ue000"


def test_an_excerpt_is_one_line_cut_at_a_word():
    assert excerpt("one two\nthree four five", 14) == "one two three…"
    assert excerpt("short", 14) == "short"
