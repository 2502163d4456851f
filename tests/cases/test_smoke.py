def test_case_page_renders_for_its_customer(client, scoped_case, customer):
    client.force_login(customer)
    response = client.get(f"/cases/{scoped_case.number}/")
    assert response.status_code == 200
    assert scoped_case.title in response.content.decode()
