"""ITK's process-wide warning switch: nested and concurrent quiet blocks always give it back."""

import threading

import SimpleITK as sitk

from ctrg_desktop.io.itk_quiet import itk_warnings_off


def test_nested_and_interleaved_blocks_restore_the_switch():
    sitk.ProcessObject.SetGlobalWarningDisplay(True)
    with itk_warnings_off():
        assert not sitk.ProcessObject.GetGlobalWarningDisplay()
        with itk_warnings_off():
            assert not sitk.ProcessObject.GetGlobalWarningDisplay()
        assert not sitk.ProcessObject.GetGlobalWarningDisplay()  # the outer block still needs it off
    assert sitk.ProcessObject.GetGlobalWarningDisplay()

    # two threads whose blocks overlap A-in, B-in, A-out, B-out: saving and restoring on their own
    # left the switch off; the shared counter gives it back
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with itk_warnings_off():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def second():
        a_in.wait(5)
        with itk_warnings_off():
            b_in.set()
            a_out.wait(5)
            assert not sitk.ProcessObject.GetGlobalWarningDisplay()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sitk.ProcessObject.GetGlobalWarningDisplay()


def test_a_block_keeps_a_switch_that_was_off():
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        with itk_warnings_off():
            pass
        assert not sitk.ProcessObject.GetGlobalWarningDisplay()
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(True)
