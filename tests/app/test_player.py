import numpy as np
import pytest

from musicsim_app.audio_backends import NullBackend, make_backend
from musicsim_app.player import PAUSED, PLAYING, STOPPED, Player
from musicsim_app.transport_bar import TransportBar, format_time


def fake_decoder(seconds=2.0, sr=8000):
    def decode(path):
        return np.zeros((int(seconds * sr), 2), np.float32), sr

    return decode


@pytest.fixture
def player(qtbot):
    p = Player(NullBackend(speed=4.0), decoder=fake_decoder(), poll_ms=10)
    yield p
    p.close()


def test_format_time():
    assert format_time(0) == "0:00"
    assert format_time(61.4) == "1:01"
    assert format_time(3725) == "1:02:05"


def test_play_pause_stop(qtbot, player, tmp_path):
    with qtbot.waitSignal(player.durationChanged, timeout=3000) as dur:
        player.play_file(tmp_path / "a.wav", "A")
    assert dur.args == [pytest.approx(2.0)]
    assert player.state == PLAYING
    with qtbot.waitSignal(player.positionChanged, timeout=2000, check_params_cb=lambda s: s > 0.0):
        pass
    player.toggle()
    assert player.state == PAUSED
    paused_at = player.position_s()
    assert 0.0 < paused_at < 2.0
    player.seek(1.0)
    assert player.position_s() == pytest.approx(1.0)
    player.toggle()
    assert player.state == PLAYING
    player.stop()
    assert player.state == STOPPED
    assert player.position_s() == 0.0


def test_track_end_stops(qtbot, player, tmp_path):
    player.play_file(tmp_path / "a.wav")
    with qtbot.waitSignal(player.stateChanged, timeout=5000, check_params_cb=lambda s: s == STOPPED):
        pass


def test_playing_another_track_replaces_the_first(qtbot, player, tmp_path):
    titles = []
    player.trackChanged.connect(lambda t, p: titles.append(t))
    player.play_file(tmp_path / "a.wav", "A")
    with qtbot.waitSignal(player.durationChanged, timeout=3000):
        player.play_file(tmp_path / "b.wav", "B")
    assert titles == ["A", "B"]
    assert player.title == "B" and player.state == PLAYING


def test_decode_error_is_reported(qtbot, tmp_path):
    def broken(path):
        from trainer.errors import AudioError

        raise AudioError("empty file (0 bytes)")

    p = Player(NullBackend(), decoder=broken)
    with qtbot.waitSignal(p.errorOccurred, timeout=3000) as err:
        p.play_file(tmp_path / "x.wav", "X")
    assert "empty file" in err.args[0]
    assert p.state == STOPPED


def test_transport_bar_follows_player(qtbot, player, tmp_path):
    bar = TransportBar(player)
    qtbot.addWidget(bar)
    with qtbot.waitSignal(player.durationChanged, timeout=3000):
        player.play_file(tmp_path / "a.wav", "Song A")
    assert "Song A" in bar.now_playing.text()
    assert bar.length_label.text() == "0:02"
    assert bar.seek_slider.isEnabled()
    bar.volume_slider.setValue(30)
    assert player.volume == pytest.approx(0.3)
    bar.stop_button.click()
    assert player.state == STOPPED


def test_make_backend_never_raises():
    backend, reason = make_backend("auto")
    assert hasattr(backend, "play")
    assert (backend.name == "null") == bool(reason)
