"""Conformance cases the tf emitters of this family cannot pass, with the reason."""

# IRTFModule's entry point is a tf.function whose input signature holds one TensorSpec per
# graph input: a sequence (Python list) or an empty optional (None) cannot be passed in.
# The sequence/optional emitters themselves work inside the graph and for graph outputs.
_SEQ_IN = "a sequence/optional graph input cannot cross IRTFModule's TensorSpec input signature"
# Sequences are Python lists while tracing, so their length must be known at conversion time.
_RUNTIME_LEN = "the sequence's length depends on a run-time trip count (TF emitter sequences " \
    "are Python lists, their length fixed at conversion); and " + _SEQ_IN

EXPECTED: dict[str, str] = {
    "test_identity_sequence": _SEQ_IN,
    "test_identity_opt": _SEQ_IN,
    "test_if_opt": "tf.cond cannot return an empty optional (None) from one branch and a "
                   "sequence from the other when the condition is a run-time value",
    "test_loop13_seq": _RUNTIME_LEN,
    "test_loop16_seq_none": _RUNTIME_LEN,
    "test_optional_get_element_optional_sequence": _SEQ_IN,
    "test_optional_get_element_sequence": _SEQ_IN,
    "test_optional_has_element_empty_optional_input": _SEQ_IN,
    "test_sequence_insert_at_back": _SEQ_IN,
    "test_sequence_insert_at_front": _SEQ_IN,
    "test_sequence_map_identity_1_sequence": _SEQ_IN,
    "test_sequence_map_identity_1_sequence_expanded": _SEQ_IN,
    "test_sequence_map_identity_2_sequences": _SEQ_IN,
    "test_sequence_map_identity_2_sequences_expanded": _SEQ_IN,
    "test_sequence_map_identity_1_sequence_1_tensor": _SEQ_IN,
    "test_sequence_map_identity_1_sequence_1_tensor_expanded": _SEQ_IN,
    "test_sequence_map_add_2_sequences": _SEQ_IN,
    "test_sequence_map_add_2_sequences_expanded": _SEQ_IN,
    "test_sequence_map_add_1_sequence_1_tensor": _SEQ_IN,
    "test_sequence_map_add_1_sequence_1_tensor_expanded": _SEQ_IN,
    "test_sequence_map_extract_shapes": _SEQ_IN,
    "test_sequence_map_extract_shapes_expanded": _SEQ_IN,
    "test_split_to_sequence_1": "the split length is a run-time scalar, so the number of pieces "
                                "is a run-time value (TF emitter sequences are Python lists, "
                                "their length fixed at conversion)",
}
