from django.shortcuts import render


def data_page(request):
    return render(request, "core/home.html", {"health": {"checks": {}}})
