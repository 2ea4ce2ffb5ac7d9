"""Pure-torch core of infinite-video: schedules, plans, queue state and sampling loops. Never imports ``comfy``."""

from .fifo import FifoQueue, check_fifo_inputs, init_queue, iterate_fifo, sample_fifo
from .plan import INIT_MODES, FifoPlan, Window, check_plan, plan_fifo
from .prompts import active_prompts, group_frames
from .steps import STEP_RULES, ancestral_step, euler_step, flow_noise_scaling, per_frame_step, ve_noise_scaling

__all__ = [
    "FifoQueue", "check_fifo_inputs", "init_queue", "iterate_fifo", "sample_fifo",
    "INIT_MODES", "FifoPlan", "Window", "check_plan", "plan_fifo",
    "active_prompts", "group_frames",
    "STEP_RULES", "ancestral_step", "euler_step", "flow_noise_scaling", "per_frame_step", "ve_noise_scaling",
]
