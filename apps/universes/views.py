from django.shortcuts import render


def universe_page(request):
    return render(request, "core/home.html", {"health": {"checks": {}}})
