from django.core.exceptions import ValidationError


def validation_message(exc: ValidationError) -> str:
    """One line for a terminal: 'field: message; other: message'."""
    if not hasattr(exc, "error_dict"):
        return " ".join(exc.messages)
    return "; ".join(
        " ".join(messages) if field == "__all__" else f"{field}: {' '.join(messages)}"
        for field, messages in exc.message_dict.items()
    )
