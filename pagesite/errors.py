"""Errors the services raise. The API turns them into RFC 9457 problems, the
web views into messages next to the fields that caused them."""


class ServiceError(Exception):
    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(self, detail, **extra):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class ValidationFailed(ServiceError):
    """One or more fields are wrong; ``errors`` maps each field to its messages."""

    status = 422
    title = "Validation failed"
    slug = "validation-failed"

    def __init__(self, errors, detail=None):
        self.errors = {field: list(messages) for field, messages in errors.items()}
        first = next(iter(self.errors.items()))
        super().__init__(detail or f"{first[0]}: {first[1][0]}", errors=self.errors)

    @classmethod
    def single(cls, field, message):
        return cls({field: [message]})


class TooLarge(ValidationFailed):
    status = 413
    title = "Payload too large"
    slug = "payload-too-large"


class NotFound(ServiceError):
    status = 404
    title = "Not found"
    slug = "not-found"


class Conflict(ServiceError):
    status = 409
    title = "Conflict"
    slug = "conflict"


class ProviderBusy(ServiceError):
    """The provider is at its limit of concurrent publishes; the work stays queued."""

    status = 503
    title = "Provider busy"
    slug = "provider-busy"


class Unavailable(ServiceError):
    """Something pagesite depends on (the file store) is not answering; try again."""

    status = 503
    title = "Service unavailable"
    slug = "service-unavailable"
