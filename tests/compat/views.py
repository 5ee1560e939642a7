"""The app's own views, the same code on both sides (only the settings change)."""

from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView


class Whoami(APIView):
    """A protected view of the app, with the project's default authentication classes."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"username": request.user.get_username()})
