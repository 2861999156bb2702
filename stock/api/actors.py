from rest_framework.authentication import TokenAuthentication

from stock.actors import Actor


def actor_for(request) -> Actor:
    """The ledger's actor for an API request: an API client when a token authenticated it."""
    kind = (
        "api_client"
        if isinstance(request.successful_authenticator, TokenAuthentication)
        else "user"
    )
    return Actor.for_user(request.user, kind=kind)
