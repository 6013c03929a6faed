"""One model shared by many threads gives the same answers as one thread."""

import threading

import numpy as np

from support import random_inputs, random_net, require_nnrt

nnrt = require_nnrt()


def test_eight_threads_agree_with_one():
    net = random_net((784, 30, 10), seed=8)
    data = net.file()
    x = random_inputs(1000, seed=8)
    pixels = (x * 255).astype(np.uint8)
    with nnrt.Model(data) as model, nnrt.Ensemble([model, nnrt.Model(random_net(seed=9).file())]) as ens:
        expected = [(m.predict(x), m.predict_proba(x), m.predict(pixels)) for m in (model, ens)]
        results = {}
        errors = []
        start = threading.Barrier(8)

        def work(index):
            try:
                start.wait()
                got = []
                for _ in range(10):
                    got = [(m.predict(x), m.predict_proba(x), m.predict(pixels)) for m in (model, ens)]
                results[index] = got
            except BaseException as error:  # reported by the main thread
                errors.append(error)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert len(results) == 8
        for got in results.values():
            for (labels, proba, u8), (want_labels, want_proba, want_u8) in zip(got, expected):
                np.testing.assert_array_equal(labels, want_labels)
                np.testing.assert_array_equal(proba, want_proba)
                np.testing.assert_array_equal(u8, want_u8)


def test_error_messages_are_per_thread():
    messages = {}

    def work(index):
        try:
            nnrt.Model(b"garbage %d" % index * 10)
        except nnrt.NNRTError as error:
            messages[index] = error.status

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert messages == {i: 3 for i in range(8)}
