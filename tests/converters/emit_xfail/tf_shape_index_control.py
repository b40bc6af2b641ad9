"""Conformance cases the tf emitters of this family cannot pass, with the reason."""

from tensorbridge.ir.errors import KernelError, UnsupportedOpError
from tests.converters.emit_xfail import Xfail

# IRTFModule's entry point is a tf.function whose input signature holds one TensorSpec per
# graph input: a sequence (Python list) or an empty optional (None) cannot be passed in.
# The sequence/optional emitters themselves work inside the graph and for graph outputs.
_SEQ_IN = "a sequence/optional graph input cannot cross IRTFModule's TensorSpec input signature"
# Sequences are Python lists while tracing, so their length must be known at conversion time.
_RUNTIME_LEN = "the sequence's length depends on a run-time trip count (TF emitter sequences " \
    "are Python lists, their length fixed at conversion); and " + _SEQ_IN
# How each shows: a list of equal-shape tensors is packed into one tensor by the signature
# (the output is then a tensor, not a sequence); a ragged list cannot be packed; an empty
# optional (None) is no tensor; a packed sequence reaching a sequence op has no known rank.
_SEQ_IN_STACKED = Xfail(_SEQ_IN, AssertionError, r"expected a sequence of \d+, got ndarray")
_SEQ_IN_RAGGED = Xfail(_SEQ_IN, TypeError,
                       r"Binding inputs to tf\.function failed .*Shapes of all inputs must match")
_OPT_IN_NONE = Xfail(_SEQ_IN, TypeError,
                     r"Binding inputs to tf\.function failed due to `Attempt to convert a value \(None\)")
_SEQ_IN_NO_RANK = Xfail(_SEQ_IN, ValueError, r"Cannot take the length of shape with unknown rank")
_COND_STRUCTURE = r"true_fn and false_fn arguments to tf\.cond must have the same number, type"
_RUNTIME_LEN_NO_RANK = Xfail(_RUNTIME_LEN, ValueError, r"Cannot take the length of shape with unknown rank")
_RUNTIME_LEN_COND = Xfail(_RUNTIME_LEN, KernelError, _COND_STRUCTURE)

EXPECTED: dict[str, Xfail] = {
    "test_identity_sequence": _SEQ_IN_STACKED,
    "test_identity_opt": _SEQ_IN_STACKED,
    "test_if_opt": Xfail("tf.cond cannot return an empty optional (None) from one branch and a "
                         "sequence from the other when the condition is a run-time value",
                         KernelError, _COND_STRUCTURE),
    "test_loop13_seq": _RUNTIME_LEN_NO_RANK,
    "test_loop16_seq_none": _RUNTIME_LEN_COND,
    "test_optional_get_element_optional_sequence": _SEQ_IN_STACKED,
    "test_optional_get_element_sequence": _SEQ_IN_STACKED,
    "test_optional_has_element_empty_optional_input": _OPT_IN_NONE,
    "test_sequence_insert_at_back": _SEQ_IN_RAGGED,
    "test_sequence_insert_at_front": _SEQ_IN_RAGGED,
    "test_sequence_map_identity_1_sequence": _SEQ_IN_NO_RANK,
    "test_sequence_map_identity_1_sequence_expanded": _SEQ_IN_NO_RANK,
    "test_sequence_map_identity_2_sequences": _SEQ_IN_RAGGED,
    "test_sequence_map_identity_2_sequences_expanded": _SEQ_IN_RAGGED,
    "test_sequence_map_identity_1_sequence_1_tensor": _SEQ_IN_RAGGED,
    "test_sequence_map_identity_1_sequence_1_tensor_expanded": _SEQ_IN_RAGGED,
    "test_sequence_map_add_2_sequences": _SEQ_IN_RAGGED,
    "test_sequence_map_add_2_sequences_expanded": _SEQ_IN_RAGGED,
    "test_sequence_map_add_1_sequence_1_tensor": _SEQ_IN_NO_RANK,
    "test_sequence_map_add_1_sequence_1_tensor_expanded": _SEQ_IN_NO_RANK,
    "test_sequence_map_extract_shapes": _SEQ_IN_RAGGED,
    "test_sequence_map_extract_shapes_expanded": _SEQ_IN_RAGGED,
    "test_split_to_sequence_1": Xfail("the split length is a run-time scalar, so the number of "
                                      "pieces is a run-time value (TF emitter sequences are Python "
                                      "lists, their length fixed at conversion)", UnsupportedOpError,
                                      r"SplitToSequence\. the number of pieces must be known at "
                                      r"conversion time"),
}
