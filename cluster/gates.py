"""Scheduling gates, as kube-scheduler's SchedulingGates PreEnqueue plugin (`pkg/scheduler/framework/plugins/
schedulinggates`): a pod that still carries a gate is not ready to be tried at all. It waits in the queue's
gated set until an update removes its last gate (the API server allows gates to be removed, never added), and
meanwhile nothing is decided, no event written: the API server itself marks it `PodScheduled=False`,
reason `SchedulingGated`.
"""

from cluster.objects import Pod


def pre_enqueue(pod: Pod) -> str | None:
    """None when the pod may enter the active queue, else why not, in upstream's words."""
    if not pod.scheduling_gates:
        return None
    return f"waiting for scheduling gates: [{' '.join(pod.scheduling_gates)}]"
