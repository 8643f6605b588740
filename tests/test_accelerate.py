"""Data-parallel training with skorch's AccelerateMixin on two CPU processes.

The training script (the recipe of ``docs/scaling.rst``) runs under
``python -m torch.distributed.run --nproc_per_node 2``; accelerate sees a
two-process CPU world and uses DistributedDataParallel over gloo.
"""

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch.distributed
from sklearn.datasets import make_multilabel_classification

from sknc import PALClassifier

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("accelerate") is None,
        reason="needs accelerate (pip install -e '.[accelerate]')",
    ),
    pytest.mark.skipif(
        not (
            torch.distributed.is_available() and torch.distributed.is_gloo_available()
        ),
        reason="needs torch.distributed with the gloo backend",
    ),
]

N_SAMPLES, BATCH_SIZE, MAX_EPOCHS = 200, 20, 5

SCRIPT = textwrap.dedent(
    f"""
    import sys

    import numpy as np
    import torch
    from accelerate import Accelerator
    from sklearn.datasets import make_multilabel_classification
    from skorch.callbacks import Callback
    from skorch.hf import AccelerateMixin

    from sknc import PALClassifier


    class CPUAccelerator(Accelerator):
        # accelerate's multi-CPU mode wraps every module in DDP, which refuses
        # modules without parameters (the PAL loss): leave those as they are
        def prepare_model(self, model, *args, **kwargs):
            if not any(p.requires_grad for p in model.parameters()):
                return model
            return super().prepare_model(model, *args, **kwargs)


    class BroadcastBuffers(Callback):
        # DDP syncs BatchNorm statistics before each forward only: give every
        # process rank 0's final ones, so that all fit the same decoder
        def on_train_end(self, net, **kwargs):
            if torch.distributed.is_initialized():
                for buffer in net.module_.buffers():
                    torch.distributed.broadcast(buffer, src=0)


    class AcceleratedPAL(AccelerateMixin, PALClassifier):
        pass


    class RecordBatches(Callback):
        def initialize(self):
            self.sizes = []
            return self

        def on_batch_end(self, net, batch=None, training=False, **kwargs):
            if training:
                self.sizes.append(len(batch[0]))


    accelerator = CPUAccelerator(cpu=True)
    X, Y = make_multilabel_classification(
        n_samples={N_SAMPLES}, n_features=10, n_classes=4, allow_unlabeled=False,
        random_state=0,
    )
    batches = RecordBatches()
    net = AcceleratedPAL(
        accelerator=accelerator,
        hidden_layer_sizes=(16,),
        max_epochs={MAX_EPOCHS},
        batch_size={BATCH_SIZE},
        lr=1e-2,
        random_state=0,
        # both per-label heads: the features' (trained under DDP) and the
        # inputs' (fitted after training, read on every process)
        label_proba="wide",
        callbacks=[("broadcast_buffers", BroadcastBuffers()), ("batches", batches)],
    )
    net.fit(X, Y)
    # saved by the main process only; a plain PALClassifier loads it
    net.save_params(
        f_params=f"{{sys.argv[1]}}/params.pt", f_state=f"{{sys.argv[1]}}/state.pt"
    )
    np.savez(
        f"{{sys.argv[1]}}/rank{{accelerator.process_index}}.npz",
        world_size=accelerator.num_processes,
        distributed_type=str(accelerator.distributed_type),
        batch_sizes=batches.sizes,
        params=torch.cat([p.detach().flatten() for p in net.module_.parameters()]),
        proba=net.predict_proba(X),
        proba_calibrated=net.set_params(label_proba="calibrated").predict_proba(X),
        pred=net.predict(X),
        Y=Y,
    )
    # a process group left to the interpreter's exit can abort one process
    # ("terminate called without an active exception") on a busy machine
    accelerator.wait_for_everyone()
    torch.distributed.destroy_process_group()
    """
)


def test_two_process_data_parallel_training(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(script),
        str(tmp_path),
    ]
    # CPU training: on a machine with one GPU, accelerate's barrier would
    # name GPU 1 for the second process ("invalid device ordinal")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    # the processes import this checkout's sknc, as the test does
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    ranks = [np.load(tmp_path / f"rank{rank}.npz") for rank in range(2)]
    for result in ranks:
        assert int(result["world_size"]) == 2
        assert "MULTI_CPU" in str(result["distributed_type"])
        # data parallel: each process trains on its half of every epoch
        sizes = result["batch_sizes"]
        assert len(sizes) == MAX_EPOCHS * N_SAMPLES // (2 * BATCH_SIZE)
        assert sizes.sum() == MAX_EPOCHS * N_SAMPLES // 2

    # DDP kept the two copies of the network identical, and both processes
    # fitted the same decoder
    np.testing.assert_array_equal(ranks[0]["params"], ranks[1]["params"])
    np.testing.assert_array_equal(ranks[0]["proba"], ranks[1]["proba"])
    np.testing.assert_array_equal(
        ranks[0]["proba_calibrated"], ranks[1]["proba_calibrated"]
    )
    assert len(ranks[0]["proba"]) == N_SAMPLES  # every row, not one shard
    np.testing.assert_array_equal(ranks[0]["pred"], ranks[1]["pred"])

    # and the model predicts
    pred, Y = ranks[0]["pred"], ranks[0]["Y"]
    assert pred.shape == Y.shape
    assert set(np.unique(pred)) <= {0, 1}
    true_positives = (pred * Y).sum()
    micro_f1 = 2 * true_positives / (pred.sum() + Y.sum())
    assert micro_f1 > 0.5, micro_f1

    # the saved model predicts the same in an ordinary estimator
    clf = PALClassifier(hidden_layer_sizes=(16,), label_proba="wide")
    clf.load_params(f_params=tmp_path / "params.pt", f_state=tmp_path / "state.pt")
    X, _ = make_multilabel_classification(
        n_samples=N_SAMPLES,
        n_features=10,
        n_classes=4,
        allow_unlabeled=False,
        random_state=0,
    )
    np.testing.assert_array_equal(clf.predict_proba(X), ranks[0]["proba"])
